/** @type {import('next').NextConfig} */
const nextConfig = {
  // nodeedge sets X-Request-ID and X-Forwarded-*; Next needs nothing special behind it.
  poweredByHeader: false,
};

export default nextConfig;
