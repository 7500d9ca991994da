"""The deployer's decisions, each named after the step that carries it out.

``domain/X.py`` decides and ``steps/X.py`` acts: ``services`` judges rollouts,
``tasks`` judges one-off tasks, ``locks`` decides the app's lock, ``register`` plans what
to register (cloning with ``taskdef``). Nothing here changes AWS: rules are pure, or read
through a gateway they are handed.
"""
