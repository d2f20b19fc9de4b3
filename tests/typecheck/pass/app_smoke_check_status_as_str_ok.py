"""Fixed: an HTTP smoke check whose expected status is a string."""

from __future__ import annotations

from harmony.modules.application import HttpCheck

check = HttpCheck(path="/health", expect_status=200)
