"""mspilot.connectors"""
