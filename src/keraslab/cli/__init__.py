"""The `keraslab` command line. Thin: every command parses its arguments, calls one library function, prints and
sets the exit code.

- main: `main(argv)`, the entry point: assembles the parser, runs the command, turns expected failures into one
  line and an exit code
- common: the parser class, the shared flags, the console
- lesson_commands: `lessons`, `run LESSON | all` (each lesson's options built from its parameters cell)
- run_output: what `run` prints besides the summary: the `run all` table, `--profile`'s phases, tracking
- runs_commands: `runs list | compare | check` (finished run folders)
- data_commands: `data list | verify | fetch | show | import`
- bundle_commands: `train`, `predict`, `serve`
- tool_commands: `prove`, `bench`, `launch`
- notebook_commands: `notebook`, `exercises`
"""
