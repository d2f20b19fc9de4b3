"""Ready-made Scores, one package per concern. They import only ``harmony.domain``."""
