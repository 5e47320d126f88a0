"""mspilot.db"""
