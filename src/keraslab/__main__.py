from keraslab.cli.main import run

run()
