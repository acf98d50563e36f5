"""The errors the library raises (defined in `index.errors`, the bottom layer, re-exported here).

Only the edges (CLI, UI) turn them into exit codes or messages.
"""

from index.errors import (  # noqa: F401 - the public names of qa's errors
    ConfigError,
    IndexEmptyError,
    InputError,
    LLMError,
    QAError,
    StoreBusyError,
    StoreDamagedError,
    StoreError,
    StoreMismatchError,
)
