"""Camera alerts from outside the picture: alert mail (SMTP) and ONVIF events."""
