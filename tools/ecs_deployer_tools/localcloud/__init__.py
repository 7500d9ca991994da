"""The local cloud: the real SAM application running in-process on moto."""
