from harmony.cli.app import main_for

main_for("examples.web_deploy")
