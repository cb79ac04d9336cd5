"""The investigation's steps, one module each: typed input, typed output carrying its evidence, queries, errors.

Each step is a function ``step(inv, ...) -> <Step>Out`` over the shared :class:`agent.state.Investigation`;
the offline plan (``agent.investigate``) calls them in a fixed order, the LLM agent wraps them as tools.
"""
