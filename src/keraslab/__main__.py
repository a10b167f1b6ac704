from keraslab.cli.entry import run

run()
