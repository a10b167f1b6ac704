"""The `keraslab` command line. Thin: every command parses its arguments, calls one library function, prints and
sets the exit code.

- main: `run()`, the console script and `python -m keraslab`; `main(argv)`: assembles the parser, runs the
  command, turns expected failures into one line and an exit code; then the quick exit
- common: the parser class, the shared flags, the console; what `run` and `train` print besides the summary
  (`--profile`'s phases, tracking)
- lesson_commands: `lessons`, `run LESSON | all` (each lesson's options built from its parameters cell; the
  `run all` table)
- runs_commands: `runs list | compare | check` (finished run folders)
- data_commands: `data list | verify | fetch | show | import`
- bundle_commands: `train`, `predict`, `serve`
- tool_commands: `prove`, `bench`, `launch`
- notebook_commands: `notebook`, `exercises`
"""
