/**
 * Routes of the edge's nginx.conf that planning/nginx.ts wires in: /static/ with its fallback to
 * the player UI. Pure text from validated settings (the generator validates before it calls these).
 */
import { COMPRESSIBLE, SECURITY_HEADERS, type Target, block, json, proxy } from "./nginxText";

/** The named location that answers /static/ requests the static volume cannot. */
export const PLAYER_FALLBACK = "@player";

/**
 * /static/ from the static volume (mounted at `<staticRoot>/static`), and the player UI for
 * every file the volume does not hold: the volume is empty until something fills it, and a
 * Create React App build keeps its bundles under /static/, so without the fallback such a UI
 * loads a blank page. The long cache and gzip below apply only to files served from the volume:
 * a request that falls back is answered in PLAYER_FALLBACK with the player UI's own headers,
 * never marked immutable.
 */
export function staticLocations(staticPrefix: string, staticRoot: string, player: Target): string[] {
  return [
    ...block(`location ^~ ${staticPrefix}`, [
      `root ${staticRoot};`,
      // $uri, not $uri/: a directory (/static/, /static/js/) is no asset either.
      `try_files $uri ${PLAYER_FALLBACK};`,
      "default_type application/octet-stream;",
      "# Asset names carry a content hash: a changed file is a new URL, so browsers may keep them.",
      "expires 1y;",
      'add_header Cache-Control "public, immutable";',
      ...SECURITY_HEADERS.filter((l) => !l.startsWith("#")),
      "# The build ships .gz next to each asset: no CPU spent compressing at request time.",
      "gzip_static on;",
      "# Files without a .gz still get compressed (public files only: see BREACH note in http).",
      "gzip on;",
      `gzip_types ${COMPRESSIBLE};`,
      "gzip_vary on;",
      "# Dotfiles (.gitkeep, .env left by a build, the fill's own bookkeeping) are never assets.",
      "location ~ /\\. {",
      "    default_type application/json;",
      `    return 404 ${json({ error: "not_found", status: 404 })};`,
      "}",
    ]),
    "",
    "# What the static volume does not hold: the player UI answers, URI unchanged, with its own",
    "# caching headers (this location sets none, so nothing here is marked immutable).",
    ...block(`location ${PLAYER_FALLBACK}`, proxy(player, {})),
  ];
}
