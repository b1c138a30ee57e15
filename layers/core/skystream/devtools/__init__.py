"""What runs on a developer's or astronomer's machine, never in Lambda: the alert generator,
lightcurve plots, the local mailbox. Not shipped in the Lambda layer.
"""
