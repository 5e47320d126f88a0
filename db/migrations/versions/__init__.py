"""mspilot.db.migrations.versions"""
