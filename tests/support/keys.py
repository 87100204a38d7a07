"""The secret key of the test suite's apps and servers (DUALCAM_SECRET_KEY). Explicit, because an app in the test
process and `dualcam serve` processes often share one database from different data dirs, and each data dir would
otherwise generate its own key (access codes issued by one would not log in on another)."""

TEST_SECRET_KEY = "dualcam-test-suite-key-0123456789-abcdefghijklmnopqrstuvwxyz"
