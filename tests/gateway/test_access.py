"""Access from the denied side with the fixture rules: refused tables, masked and hidden
columns, row filters that hold through joins and subqueries, metadata that hides what a
user may not read, passwords, impersonation."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
import trino
from trino.exceptions import TrinoUserError

from lakehouse.gateway import SqlGateway
from lakehouse.gateway.auth import add_user
from tests.gateway.conftest import FIXTURE_RULES, gateway_settings, query_all


def _denied(connection, sql: str) -> TrinoUserError:
    with pytest.raises(TrinoUserError) as caught:
        query_all(connection, sql)
    assert caught.value.error_name == "PERMISSION_DENIED", caught.value.message
    assert caught.value.message.startswith("Access Denied: ")
    return caught.value


def test_a_table_without_a_rule_is_refused_and_so_is_a_catalog(connect):
    error = _denied(connect("ana"), "SELECT * FROM lake.silver.hidden")
    assert error.message == "Access Denied: Cannot select from table lake.silver.hidden"
    _denied(connect("nobody"), "SELECT 1 FROM lake.gold.readings")  # no group: no rule matches
    # A refused table hidden in a subquery or a CTE is refused the same.
    _denied(connect("ana"), "WITH h AS (SELECT * FROM lake.silver.hidden) SELECT count(*) FROM h")
    _denied(connect("ana"), "SELECT (SELECT count(*) FROM lake.silver.hidden) FROM readings LIMIT 1")


def test_masked_columns_come_back_masked_with_their_type(connect):
    cursor = connect("ana").cursor()
    cursor.execute("SELECT person_id, phone, birth_date, full_name FROM people ORDER BY person_id")
    rows = cursor.fetchall()
    assert {r[1] for r in rows} == {"***"} and {r[2] for r in rows} == {None}
    assert rows[0][3] == "Nguyễn Văn A"  # unmasked columns untouched
    assert [d.type_code for d in cursor.description][2] == "date"  # NULL mask keeps the column's type
    # The mask holds wherever the column is used: filters and aggregates see the masked value.
    assert query_all(connect("ana"), "SELECT count(*) FROM people WHERE phone LIKE '09%'") == [[0]]


def test_a_column_nobody_may_read_is_refused_not_silently_dropped(connect):
    error = _denied(connect("ana"), "SELECT email FROM people")
    assert error.message == "Access Denied: Cannot select from columns [email] in table or view lake.gold.people"
    _denied(connect("ana"), "SELECT * FROM people")
    assert query_all(connect("ana"), "SELECT count(*) FROM people") == [[6]]


def test_a_row_filter_holds_through_joins_aggregates_and_subqueries(connect):
    hl = connect("hl")
    assert query_all(hl, "SELECT DISTINCT unit_code FROM readings") == [["193"]]
    assert query_all(hl, "SELECT count(*) FROM readings") == query_all(
        connect("admin"), "SELECT count(*) FROM readings WHERE unit_code = '193'")
    joined = query_all(hl, "SELECT DISTINCT p.unit_code FROM people p JOIN readings r ON r.unit_code <> p.unit_code")
    assert joined == []  # both sides filtered before the join: no other unit to pair with
    assert query_all(hl, "SELECT max(id) FROM (SELECT id FROM lake.gold.readings WHERE unit_code = '194')") == [[None]]
    # A mask expression in Trino SQL, translated like any query.
    assert query_all(hl, "SELECT DISTINCT phone FROM people") == [["090****"]]


def test_metadata_lists_only_what_the_user_may_read(connect, gateway):
    assert query_all(connect("ana"), "SELECT table_schema, table_name FROM information_schema.tables "
                                     "WHERE table_schema <> 'information_schema' ORDER BY 2") == [
        ["gold", "people"], ["gold", "readings"]]
    columns = query_all(connect("ana"), "SELECT column_name FROM system.jdbc.columns WHERE table_name = 'people'")
    assert "email" not in {c[0] for c in columns} and "phone" in {c[0] for c in columns}
    # The last catalog rule denies every catalog (system included) to users without a group.
    assert query_all(connect("nobody", catalog=None, schema=None), "SHOW CATALOGS") == []
    assert ["lake", "silver", "hidden"] in query_all(connect("admin"), "SELECT table_cat, table_schem, table_name "
                                                                      "FROM system.jdbc.tables")


def test_sqlalchemy_reflection_sees_the_departments_view(gateway):
    engine = sa.create_engine(f"trino://ana@127.0.0.1:{gateway.url.rsplit(':', 1)[1]}/lake/gold")
    inspector = sa.inspect(engine)
    assert sorted(inspector.get_schema_names()) == ["gold", "information_schema"]
    assert sorted(inspector.get_table_names("gold")) == ["people", "readings"]
    assert [c["name"] for c in inspector.get_columns("people", "gold")] == [
        "person_id", "full_name", "phone", "birth_date", "unit_code"]
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM people WHERE unit_code = :u"),
                                  {"u": "193"}).scalar() == 2
    engine.dispose()


@pytest.fixture(scope="module")
def guarded(fixture_lake: Path, fixture_etc: Path, tmp_path_factory: pytest.TempPathFactory):
    """A second gateway that requires passwords (from a Trino password file)."""
    folder = tmp_path_factory.mktemp("secrets")
    passwords = {user: add_user(folder / "password.db", user) for user in ("ana", "superset")}
    settings = gateway_settings(fixture_lake, fixture_etc, tmp_path_factory.mktemp("spool"),
                                sql_gateway_password_file=str(folder / "password.db"))
    with SqlGateway(settings, port=0) as running:
        yield running, passwords


def _login(gateway: SqlGateway, user: str, password: str, **kwargs) -> trino.dbapi.Connection:
    return trino.dbapi.connect(host="127.0.0.1", port=int(gateway.url.rsplit(":", 1)[1]), user=user,
                               auth=trino.auth.BasicAuthentication(user, password), allow_insecure_auth=True,
                               catalog="lake", schema="gold", **kwargs)


def test_a_password_file_is_required_when_configured(guarded):
    gateway, passwords = guarded
    assert query_all(_login(gateway, "ana", passwords["ana"]), "SELECT count(*) FROM people") == [[6]]
    response = requests.post(f"{gateway.url}/v1/statement", data="SELECT 1", headers={"X-Trino-User": "ana"},
                             timeout=5)
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Basic")
    bad = base64.b64encode(b"ana:wrong").decode()
    assert requests.post(f"{gateway.url}/v1/statement", data="SELECT 1", timeout=5,
                         headers={"Authorization": f"Basic {bad}"}).status_code == 401
    assert Path(gateway.passwords.path).read_text().count("$2y$") == 2  # Trino's bcrypt form; no clear text


def test_impersonation_follows_the_rules(guarded):
    gateway, passwords = guarded
    # Superset authenticates as itself and runs each query as the department.
    cursor = trino.dbapi.connect(host="127.0.0.1", port=int(gateway.url.rsplit(":", 1)[1]), user="ana",
                                 auth=trino.auth.BasicAuthentication("superset", passwords["superset"]),
                                 allow_insecure_auth=True, catalog="lake", schema="gold").cursor()
    cursor.execute("SELECT DISTINCT phone FROM people")
    assert cursor.fetchall() == [["***"]]  # ana's masks apply, not superset's (platform) view
    # ana may not become anyone else.
    hijack = trino.dbapi.connect(host="127.0.0.1", port=int(gateway.url.rsplit(":", 1)[1]), user="admin",
                                 auth=trino.auth.BasicAuthentication("ana", passwords["ana"]),
                                 allow_insecure_auth=True, catalog="lake", schema="gold")
    error = _denied(hijack, "SELECT 1")
    assert error.message == "Access Denied: User ana cannot impersonate user admin"


def test_rules_are_reloaded_when_the_file_changes(fixture_lake, tmp_path, fixture_etc):
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "catalog").mkdir()
    (etc / "catalog" / "lake.properties").write_text((fixture_etc / "catalog" / "lake.properties").read_text())
    (etc / "group.txt").write_text("analysts:ana\n")
    (etc / "rules.json").write_text(json.dumps({"tables": []}))
    with SqlGateway(gateway_settings(fixture_lake, etc, tmp_path / "spool"), port=0) as gateway:
        connection = trino.dbapi.connect(host="127.0.0.1", port=int(gateway.url.rsplit(":", 1)[1]), user="ana",
                                         catalog="lake", schema="gold")
        _denied(connection, "SELECT count(*) FROM people")
        (etc / "rules.json").write_text(json.dumps(FIXTURE_RULES))
        assert query_all(connection, "SELECT count(*) FROM people") == [[6]]


def test_a_broken_rules_file_stops_the_start_with_its_reason(fixture_lake, tmp_path, fixture_etc):
    etc = tmp_path / "etc"
    (etc / "catalog").mkdir(parents=True)
    (etc / "catalog" / "lake.properties").write_text((fixture_etc / "catalog" / "lake.properties").read_text())
    (etc / "group.txt").write_text("")
    (etc / "rules.json").write_text(json.dumps({"tables": [{"table": "x", "privileges": ["READ"]}]}))
    from lakehouse.gateway import TrinoError

    with pytest.raises(TrinoError, match=r"tables\[0\]: privileges"):
        SqlGateway(gateway_settings(fixture_lake, etc, tmp_path / "spool"), port=0)


def test_beyond_loopback_needs_a_password_file_and_tls(fixture_lake, fixture_etc, tmp_path):
    with pytest.raises(ValueError, match="password file"):
        SqlGateway(gateway_settings(fixture_lake, fixture_etc, tmp_path), host="0.0.0.0", port=0)


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A throw-away certificate for 127.0.0.1 (generated here, never committed)."""
    from datetime import UTC, datetime, timedelta
    from ipaddress import IPv4Address

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=1))
            .not_valid_after(now + timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "gateway.pem", folder / "gateway.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_https_with_a_password_as_the_trino_client_expects(fixture_lake, fixture_etc, tmp_path, monkeypatch):
    # requests lets REQUESTS_CA_BUNDLE override a session's own CA file: clear it for this test.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    cert, key = _self_signed(tmp_path)
    password = add_user(tmp_path / "password.db", "ana")
    settings = gateway_settings(fixture_lake, fixture_etc, tmp_path / "spool", sql_gateway_tls_cert=str(cert),
                                sql_gateway_tls_key=str(key), sql_gateway_password_file=str(tmp_path / "password.db"))
    with SqlGateway(settings, port=0) as gateway:
        assert gateway.url.startswith("https://")
        connection = trino.dbapi.connect(host="127.0.0.1", port=int(gateway.url.rsplit(":", 1)[1]), user="ana",
                                         http_scheme="https", verify=str(cert),
                                         auth=trino.auth.BasicAuthentication("ana", password),
                                         catalog="lake", schema="gold")
        assert query_all(connection, "SELECT count(*) FROM readings") == [[25_000]]
        engine = sa.create_engine(f"trino://ana:{password}@127.0.0.1:{gateway.url.rsplit(':', 1)[1]}/lake/gold",
                                  connect_args={"http_scheme": "https", "verify": str(cert)})
        with engine.connect() as sa_connection:
            assert sa_connection.execute(sa.text("SELECT count(*) FROM people")).scalar() == 6
        engine.dispose()
