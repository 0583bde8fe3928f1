"""The MCP plumbing: protocol handlers, notifications, resources, prompts, elicitation, sampling."""
