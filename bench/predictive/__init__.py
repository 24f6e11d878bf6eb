"""How well the detectors predict later purchases, on the public CDNOW purchase history."""
