"""mspilot.connectors.superops"""
