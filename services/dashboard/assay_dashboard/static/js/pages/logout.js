// Signing out: asked for with a button (a link alone must not sign anyone out).
import { signOut } from "../layout.js";

document.getElementById("logout").addEventListener("click", signOut);
