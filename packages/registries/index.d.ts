/** The absolute paths of the bundled `registries` and `codesets` folders. */
export declare function bundledFolders(): { registries: string; codesets: string };
