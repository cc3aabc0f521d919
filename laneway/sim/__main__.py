"""``python -m laneway.sim``: the sim backend without the rest of the laneway CLI."""

import typer

from laneway.sim.cli import sim_backend

app = typer.Typer(add_completion=False)
app.command()(sim_backend)

if __name__ == "__main__":
    app()
