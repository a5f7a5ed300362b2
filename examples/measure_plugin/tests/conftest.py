"""Make the example importable without installing it (installing it would put
its measure into every check of this environment)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
