"""An order as a saga: parallel steps, a payment child workflow, compensation on failure."""
