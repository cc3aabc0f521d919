from laneway_cli import main

main()
