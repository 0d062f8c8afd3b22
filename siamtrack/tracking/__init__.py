"""The tracker loop and the crop geometry it relies on."""
