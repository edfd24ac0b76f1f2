"""Entry point of `pulumi preview --policy-pack policy`: builds the PolicyPack, nothing else."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import PolicyPack  # noqa: E402

from policy import POLICIES  # noqa: E402

PolicyPack(name="anycloud", policies=POLICIES)
