"""mspilot.db.migrations"""
