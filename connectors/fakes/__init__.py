"""mspilot.connectors.fakes"""
