"""The prompt-quality scorer behind ``intercept``."""
