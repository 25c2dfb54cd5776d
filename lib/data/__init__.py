"""Data: RGB-T datasets (lib.data.datasets), synthetic generator (lib.data.synthetic)."""
