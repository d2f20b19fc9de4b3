from harmony.cli.app import main_for

main_for("examples.secrets_deploy")
