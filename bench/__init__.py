"""mspilot.bench"""
