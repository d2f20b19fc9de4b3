"""The fleet's web dashboard, served by ``harmony fleet serve`` in the controller's process."""
