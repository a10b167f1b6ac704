"""The `keraslab` command line. Thin: every command parses its arguments, calls one library function, prints and
sets the exit code.

- entry: `run()`, the console script: a command a warm worker serves goes there, any other to main
- main: `main(argv)`: assembles the parser, runs the command, turns expected failures into one line and an exit
  code; `finish(code)`, the quick exit
- warm_start, warm_worker: the warm worker that serves `keraslab run` with its imports done
- common: the parser class, the shared flags, the console
- lesson_commands: `lessons`, `run LESSON | all` (each lesson's options built from its parameters cell)
- run_output: what `run` prints besides the summary: the `run all` table, `--profile`'s phases, tracking
- runs_commands: `runs list | compare | check` (finished run folders)
- data_commands: `data list | verify | fetch | show | import`
- bundle_commands: `train`, `predict`, `serve`
- tool_commands: `prove`, `bench`, `launch`
- notebook_commands: `notebook`, `exercises`
"""
