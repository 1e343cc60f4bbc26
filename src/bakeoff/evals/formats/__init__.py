"""Suite readers: Bakeoff's own YAML (evals.suite), promptfoo configs, and cases from datasets.

`loader.load(name_or_path)` picks the reader from the file: a promptfoo config (promptfooconfig.yaml,
or a mapping with promptfoo's `prompts`/`providers`/`tests` and no `cases`) goes to the promptfoo
reader; everything else is a Bakeoff suite.
"""
