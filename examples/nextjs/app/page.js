import { auth } from '@clerk/nextjs/server';
import Link from 'next/link';

export default async function Home() {
  const { userId } = await auth();
  return (
    <div>
      <h1>Home</h1>
      <p id="home-state">{userId ? 'signed in' : 'signed out'}</p>
      {!userId && (
        <p>
          <Link href="/sign-in">Sign in</Link> or <Link href="/sign-up">sign up</Link>
        </p>
      )}
    </div>
  );
}
