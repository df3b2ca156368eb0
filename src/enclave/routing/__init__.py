"""Where each request may go and why: public model names, targets, the policy, and target health."""
