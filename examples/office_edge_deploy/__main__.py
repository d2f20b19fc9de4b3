from harmony.cli.app import main_for

main_for("examples.office_edge_deploy")
