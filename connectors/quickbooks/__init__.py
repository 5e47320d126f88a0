"""mspilot.connectors.quickbooks"""
