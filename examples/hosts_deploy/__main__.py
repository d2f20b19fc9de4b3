from harmony.cli.app import main_for

main_for("examples.hosts_deploy")
