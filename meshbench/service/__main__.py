from meshbench.service.app import main

main()
