"""The CLI's settings (flag, then environment, then config file) and its exit codes for misuse."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from aiohttp import web

from assay.local import free_port
from tests.conftest import Stack
from tests.sdk.conftest import Cli


@pytest.mark.parametrize(
    "args",
    [
        pytest.param([], id="no command"),
        pytest.param(["bogus"], id="unknown command"),
        pytest.param(["status", "--verbose"], id="unknown option"),
        pytest.param(["status", "--output", "xml"], id="unknown output format"),
        pytest.param(["--api-url", "ftp://example.com", "status"], id="not an http URL"),
        pytest.param(["events", "tail", "--limit", "many"], id="not a number"),
        pytest.param(["events", "tail", "--from-seq", "0"], id="sequence below 1"),
    ],
)
async def test_usage_errors_exit_64(cli: Cli, args: list[str]) -> None:
    result = await cli.run(*args)

    assert result.code == 64, result.stderr
    assert "Usage: assay" in result.stdout + result.stderr


async def test_api_url_comes_from_the_flag_then_the_environment_then_the_config_file(
    stack: Stack, cli: Cli
) -> None:
    nothing = f"http://127.0.0.1:{free_port()}"
    cli.config_file.parent.mkdir(parents=True)
    cli.config_file.write_text(f'api_url = "{stack.url}"\n')

    from_config = await cli.run("status")
    env_over_config = await cli.run("status", env={"ASSAY_API_URL": nothing})
    flag_over_env = await cli.run("status", "--api-url", stack.url, env={"ASSAY_API_URL": nothing})
    global_flag_over_env = await cli.run("--api-url", stack.url, "status", env={"ASSAY_API_URL": nothing})

    assert from_config.code == 0, from_config.stderr
    assert env_over_config.code == 1
    assert nothing in env_over_config.stderr
    assert flag_over_env.code == 0, flag_over_env.stderr
    assert global_flag_over_env.code == 0, global_flag_over_env.stderr


async def test_output_comes_from_the_flag_then_the_environment_then_the_config_file(
    stack: Stack, cli: Cli
) -> None:
    config = {"ASSAY_CLI_CONFIG": str(cli.config_home / "elsewhere.toml")}
    (cli.config_home / "elsewhere.toml").write_text('output = "yaml"\n')

    piped = await cli.run("--api-url", stack.url, "status")
    from_config = await cli.run("--api-url", stack.url, "status", env=config)
    env_over_config = await cli.run("--api-url", stack.url, "status", env={**config, "ASSAY_OUTPUT": "jsonl"})
    flag_over_env = await cli.run(
        "--api-url", stack.url, "status", "-o", "table", env={**config, "ASSAY_OUTPUT": "jsonl"}
    )

    assert json.loads(piped.stdout)["status"] == "ok"
    assert len(piped.lines()) > 1
    assert yaml.safe_load(from_config.stdout)["status"] == "ok"
    assert len(env_over_config.lines()) == 1
    assert json.loads(env_over_config.stdout)["status"] == "ok"
    assert flag_over_env.lines()[0].split() == ["SERVICE", "STATUS", "DETAIL", "LATENCY"]


async def test_a_config_file_with_an_unknown_key_is_an_error(cli: Cli) -> None:
    cli.config_file.parent.mkdir(parents=True)
    cli.config_file.write_text('api_url = "http://127.0.0.1:8080"\nengine_url = "x"\n')

    result = await cli.run("status")

    assert result.code == 1
    assert "unknown key(s) engine_url" in result.stderr


async def test_a_named_config_file_must_exist(cli: Cli) -> None:
    missing = cli.config_home / "missing.toml"

    result = await cli.run("status", env={"ASSAY_CLI_CONFIG": str(missing)})

    assert result.code == 1
    assert f"$ASSAY_CLI_CONFIG names {missing}, which is not a file" in result.stderr


@contextlib.asynccontextmanager
async def header_recorder() -> AsyncIterator[tuple[str, list[str | None]]]:
    """A server that answers every request with a problem and notes each Authorization header."""
    seen: list[str | None] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization"))
        problem = {"type": "about:blank", "title": "Not found", "status": 404, "code": "not_found"}
        return web.json_response(problem, status=404, content_type="application/problem+json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


async def test_api_key_comes_from_the_flag_then_its_file_then_the_environment_then_the_config_file(
    cli: Cli, tmp_path: Path
) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("assay_from_file\n")
    env_file = tmp_path / "env-key"
    env_file.write_text("assay_from_env_file")
    cli.config_file.parent.mkdir(parents=True)
    cli.config_file.write_text('api_key = "assay_from_config"\n')
    async with header_recorder() as (url, seen):
        await cli.run("--api-url", url, "--api-key", "assay_flag", "namespace", "list")
        await cli.run("--api-url", url, "--api-key-file", str(key_file), "namespace", "list")
        await cli.run("--api-url", url, "namespace", "list", env={"ASSAY_API_KEY": "assay_env"})
        await cli.run("--api-url", url, "namespace", "list", env={"ASSAY_API_KEY_FILE": str(env_file)})
        await cli.run("--api-url", url, "namespace", "list")

    assert seen == [
        "Bearer assay_flag",
        "Bearer assay_from_file",
        "Bearer assay_env",
        "Bearer assay_from_env_file",
        "Bearer assay_from_config",
    ]


async def test_an_unreadable_api_key_file_is_a_clear_error(cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "nope"

    result = await cli.run(
        "--api-url", "http://127.0.0.1:9", "--api-key-file", str(missing), "namespace", "list"
    )

    assert result.code == 1
    assert f"cannot read the API key file {missing}" in result.stderr
    assert "assay_" not in result.stderr
