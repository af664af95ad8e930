#!/usr/bin/env python3
"""Units and coordinates for field work, as an MCP server on stdio (standard library only).

Tools:
  convert  -- a value from one unit to another (length, mass, volume, speed, pressure,
              temperature, area)
  coords   -- a latitude/longitude in decimal degrees or degrees-minutes-seconds, both ways,
              with the Maidenhead locator radio operators use

MCP over stdio is one JSON-RPC message per line; this answers initialize, tools/list,
tools/call and ping, and "method not found" to anything else.
"""
import json
import math
import re
import sys

PROTOCOL = "2025-11-25"

# Factor to the base unit of each dimension.
UNITS = {
    "length": {"m": 1, "km": 1000, "cm": 0.01, "mm": 0.001, "mi": 1609.344, "yd": 0.9144,
               "ft": 0.3048, "in": 0.0254, "nmi": 1852},
    "mass": {"kg": 1, "g": 0.001, "mg": 1e-6, "t": 1000, "lb": 0.45359237, "oz": 0.028349523125},
    "volume": {"l": 1, "ml": 0.001, "m3": 1000, "gal": 3.785411784, "qt": 0.946352946,
               "floz": 0.0295735295625},
    "speed": {"m/s": 1, "km/h": 1 / 3.6, "mph": 0.44704, "kn": 1852 / 3600},
    "pressure": {"pa": 1, "hpa": 100, "kpa": 1000, "bar": 1e5, "mbar": 100, "psi": 6894.757293168,
                 "atm": 101325, "mmhg": 133.322387415},
    "area": {"m2": 1, "km2": 1e6, "ha": 1e4, "acre": 4046.8564224, "ft2": 0.09290304},
}
TEMPERATURE = {"c", "f", "k"}

TOOLS = [
    {
        "name": "convert",
        "description": "Convert a value between units (m km mi ft nmi, kg lb oz, l gal, m/s km/h "
                       "mph kn, hPa psi bar atm mmHg, m2 ha acre, C F K).",
        "inputSchema": {
            "type": "object",
            "properties": {
                "value": {"type": "number", "description": "the amount"},
                "from": {"type": "string", "description": "its unit, e.g. ft"},
                "to": {"type": "string", "description": "the unit wanted, e.g. m"},
            },
            "required": ["value", "from", "to"],
        },
        "annotations": {"readOnlyHint": True},
    },
    {
        "name": "coords",
        "description": "Read a position (decimal degrees like 46.5583, 7.8342 or DMS like "
                       "46°33'30\"N 7°50'3\"E) and give it in both forms with its Maidenhead locator.",
        "inputSchema": {
            "type": "object",
            "properties": {"position": {"type": "string", "description": "latitude, longitude"}},
            "required": ["position"],
        },
        "annotations": {"readOnlyHint": True},
    },
]


class ToolError(Exception):
    pass


def convert(value, frm, to):
    f, t = frm.strip().lower(), to.strip().lower()
    if f in TEMPERATURE or t in TEMPERATURE:
        if not (f in TEMPERATURE and t in TEMPERATURE):
            raise ToolError(f"cannot convert {frm} to {to}: one is a temperature")
        kelvin = {"c": value + 273.15, "f": (value - 32) * 5 / 9 + 273.15, "k": value}[f]
        if kelvin < 0:
            raise ToolError("below absolute zero")
        out = {"c": kelvin - 273.15, "f": (kelvin - 273.15) * 9 / 5 + 32, "k": kelvin}[t]
        return f"{value:g} {frm} = {out:.6g} {to}"
    for dim, units in UNITS.items():
        if f in units and t in units:
            out = value * units[f] / units[t]
            if not math.isfinite(out):
                raise ToolError("the result is too large to write")
            return f"{value:g} {frm} = {out:.6g} {to}"
    known = sorted({u for units in UNITS.values() for u in units} | TEMPERATURE)
    for u in (f, t):
        if all(u not in units for units in UNITS.values()) and u not in TEMPERATURE:
            raise ToolError(f"unknown unit {u!r}; known: {' '.join(known)}")
    raise ToolError(f"cannot convert {frm} to {to}: they measure different things")


DMS = re.compile(r"""(\d+(?:\.\d+)?)\s*[°d ]\s*(?:(\d+(?:\.\d+)?)\s*['m ]\s*)?(?:(\d+(?:\.\d+)?)\s*(?:"|''|s)?\s*)?([NSEW])""", re.I)


def parse_position(text):
    found = DMS.findall(text)
    if len(found) == 2:
        vals = []
        for d, m, s, h in found:
            v = float(d) + float(m or 0) / 60 + float(s or 0) / 3600
            vals.append((-v if h.upper() in "SW" else v, h.upper()))
        lat = next((v for v, h in vals if h in "NS"), None)
        lon = next((v for v, h in vals if h in "EW"), None)
        if lat is None or lon is None:
            raise ToolError("a DMS position needs one of N/S and one of E/W")
        return lat, lon
    parts = [p for p in re.split(r"[,\s]+", text.strip()) if p]
    if len(parts) != 2:
        raise ToolError("give latitude and longitude, e.g. 46.5583, 7.8342")
    try:
        return float(parts[0]), float(parts[1])
    except ValueError:
        raise ToolError(f"not a position: {text!r}")


def dms(v, pos, neg):
    h = pos if v >= 0 else neg
    v = abs(v)
    d = int(v)
    m = int((v - d) * 60)
    s = (v - d - m / 60) * 3600
    return f"{d}°{m:02d}'{s:04.1f}\"{h}"


def maidenhead(lat, lon):
    # The grid's last square holds its edges (90 N, 180 E).
    lon = min(lon, 179.999999) + 180
    lat = min(lat, 89.999999) + 90
    a = chr(ord("A") + int(lon // 20)) + chr(ord("A") + int(lat // 10))
    b = str(int((lon % 20) // 2)) + str(int(lat % 10))
    c = chr(ord("a") + int((lon % 2) * 12)) + chr(ord("a") + int((lat % 1) * 24))
    return a + b + c


def coords(text):
    lat, lon = parse_position(text)
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or math.isnan(lat + lon):
        raise ToolError(f"out of range: latitude {lat}, longitude {lon}")
    return (f"{lat:.6f}, {lon:.6f}\n{dms(lat, 'N', 'S')} {dms(lon, 'E', 'W')}\n"
            f"locator {maidenhead(lat, lon)}")


def call(name, args):
    if name == "convert":
        v = args.get("value")
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ToolError("value must be a number")
        return convert(float(v), str(args.get("from", "")), str(args.get("to", "")))
    if name == "coords":
        return coords(str(args.get("position", "")))
    return None


def answer(msg):
    method, mid, params = msg.get("method"), msg.get("id"), msg.get("params") or {}
    if method == "initialize":
        return {"protocolVersion": PROTOCOL, "capabilities": {"tools": {"listChanged": False}},
                "serverInfo": {"name": "units", "version": "1.0.0"}}
    if method == "ping":
        return {}
    if method == "tools/list":
        return {"tools": TOOLS}
    if method == "tools/call":
        name = params.get("name")
        args = params.get("arguments") or {}
        if not isinstance(args, dict):
            return {"content": [{"type": "text", "text": "arguments must be an object"}],
                    "isError": True}
        try:
            text = call(name, args)
        except ToolError as e:
            return {"content": [{"type": "text", "text": str(e)}], "isError": True}
        except (ArithmeticError, ValueError, TypeError) as e:
            return {"content": [{"type": "text", "text": f"cannot compute that: {e}"}],
                    "isError": True}
        if text is None:
            raise LookupError(f"Unknown tool: {name}")
        return {"content": [{"type": "text", "text": text}], "isError": False}
    raise NotImplementedError(method)


def main():
    for line in sys.stdin:
        line = line.strip().lstrip("\ufeff")
        if not line:
            continue
        try:
            msg = json.loads(line)
        except ValueError:
            out = {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}}
            print(json.dumps(out), flush=True)
            continue
        if not isinstance(msg, dict) or "id" not in msg:
            continue  # a notification (initialized, cancelled): nothing to say
        try:
            out = {"jsonrpc": "2.0", "id": msg["id"], "result": answer(msg)}
        except NotImplementedError as e:
            out = {"jsonrpc": "2.0", "id": msg["id"],
                   "error": {"code": -32601, "message": f"method not found: {e}"}}
        except LookupError as e:
            out = {"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32602, "message": str(e)}}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
