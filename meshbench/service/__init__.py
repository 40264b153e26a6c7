"""The sample microservice every platform deploys (aiohttp; one process per pod)."""
