"""Where the real third-party data lives: ../shared/data beside the repository,
or SIGNROOM_SHARED_DATA. A fresh clone has none; tests that need it skip."""

import os
from pathlib import Path

SHARED = Path(os.environ.get("SIGNROOM_SHARED_DATA", Path(__file__).parents[2] / "shared/data"))
