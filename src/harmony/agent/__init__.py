"""The always-on agent: heartbeats, failover and the fleet reconciler over NATS JetStream."""
