from harmony.cli.app import main_for

main_for("examples.status_board_deploy")
