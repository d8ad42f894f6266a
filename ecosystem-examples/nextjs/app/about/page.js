// Prerendered at build time; the Next server still answers for it, nodeedge only serves
// /_next/static/ itself.
export default function About() {
  return (
    <>
      <h1>About</h1>
      <p>
        Pages come from <code>next start</code>; the hashed files under <code>/_next/static/</code> come
        straight from <code>.next/static</code> on disk, cached by browsers for a year.
      </p>
    </>
  );
}
