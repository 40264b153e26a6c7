"""The sample microservice every platform deploys (one process per pod)."""
