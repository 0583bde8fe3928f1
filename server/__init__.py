"""The MCP layer of loopcore: tools, resources, prompts, transports and the CLI."""
